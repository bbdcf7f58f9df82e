import sys

from lore.cli import main

sys.exit(main())
