"""Reading: documents and publisher tables become canonical rows, then validation checks them."""
