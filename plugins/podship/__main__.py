"""`python -m podship` is the same as the `podship` console script."""

from podship.cli.main import main

raise SystemExit(main())
