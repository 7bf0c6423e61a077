from gaplab.cli import main

main()
