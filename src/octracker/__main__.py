from octracker.cli import main

main()
