from synthrl.cli import main

raise SystemExit(main())
