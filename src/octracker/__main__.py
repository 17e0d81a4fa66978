from octracker.cli import run

run()
