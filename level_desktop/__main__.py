"""`python -m level_desktop` opens the window."""

import sys

from level_desktop.app import main

sys.exit(main())
