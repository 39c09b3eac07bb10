"""`python -m pitwall_cli`: the `pitwall` command."""

import sys

from pitwall_cli import main

sys.exit(main())
