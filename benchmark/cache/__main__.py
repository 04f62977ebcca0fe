import sys

from benchmark.cache.prepare import main

sys.exit(main())
