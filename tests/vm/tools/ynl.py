"""The kernel's YNL command line client (tools/net/ynl/cli.py of the test kernel's
source, $VR_KSRC), with the same arguments, reading the YAML spec with libyaml's loader:
its pure-Python loader made each call cost about a second more in TCG (the 35 kB spec is
read at every call)."""
import os
import sys

import yaml

yaml.safe_load = lambda stream: yaml.load(stream, Loader=yaml.CSafeLoader)
sys.path.insert(0, os.path.join(os.environ["VR_KSRC"], "tools/net/ynl"))
sys.argv[0] = "ynl"

import cli  # noqa: E402 (after the path it lives in)

cli.main()
