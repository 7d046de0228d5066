import sys

from priormatch.cli import main

sys.exit(main())
