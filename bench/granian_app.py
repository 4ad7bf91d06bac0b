"""The bench container's WSGI application, as an import target for granian and gunicorn.

Each worker process boots its own container on $BENCH_PORT.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from channels.http.wsgi import create_app

app = create_app("workload:BenchContainer", port=int(os.environ["BENCH_PORT"]))
