import sys

from hardener.cli import main

sys.exit(main())
