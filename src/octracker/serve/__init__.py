"""What readers of the warehouse get: status, the HTML report and its charts, exports."""
