from rearbuild.cli import main

raise SystemExit(main())
