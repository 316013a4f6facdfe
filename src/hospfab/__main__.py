from hospfab.cli import main

main()
