"""Debian packages a test needs, installed when missing (as root, apt-get), never a skip.

``make test`` and ``.ci/run`` need nothing set up by hand: a test that needs a program from
Debian names the package and the file it provides; a machine without the file gets the
package, and a machine where it cannot be installed (not root, no apt-get) fails with a
sentence that says what to install.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import threading
from collections.abc import Mapping

_installing = threading.Lock()  # tests/dates.py installs from threads of its own


def ensure_packages(packages: Mapping[str, str], needed_by: str) -> None:
    """Install every package of ``packages`` (name -> a file it provides, a glob pattern) whose
    file is missing; ``needed_by`` names what needs them, for the error."""
    with _installing:
        missing = [name for name, path in packages.items() if not glob.glob(path)]
        if not missing:
            return
        if os.geteuid() != 0 or not shutil.which("apt-get"):
            raise RuntimeError(
                f"{needed_by} needs Debian's {', '.join(missing)}: "
                f"apt-get install {' '.join(missing)} (as root)"
            )
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing],
            check=True,
            env=env,
        )


# What each make target's tests need, installed before pytest starts (an install inside a
# test would count against its timeout); the tests check again and fail saying what is missing.
NEEDS = {
    "test": {
        "postgresql": "/usr/lib/postgresql/*/bin/postgres",  # the database TLS test
        "openssl": "/usr/bin/openssl",
        "chromium": "/usr/bin/chromium",  # the console in a real browser
        "chromium-driver": "/usr/bin/chromedriver",
        "faketime": "/usr/bin/faketime",  # tests/test_faked_clock_sharing.py
    },
    "failover": {  # tests/ha_cluster.py
        "patroni": "/usr/bin/patroni",
        "etcd-server": "/usr/bin/etcd",
        "etcd-client": "/usr/bin/etcdctl",
        "postgresql-15": "/usr/lib/postgresql/15/bin/postgres",
        "openssl": "/usr/bin/openssl",  # the cluster's throwaway certificates
        # Patroni's HTTPS (to etcd, between members) goes through urllib3, which needs idna:
        # only a "Suggests" of Debian's python3-urllib3.
        "python3-idna": "/usr/lib/python3/dist-packages/idna/__init__.py",
    },
    "dates": {"faketime": "/usr/bin/faketime"},  # faketime depends on libfaketime
}


if __name__ == "__main__":
    import sys

    for target in sys.argv[1:] or ["test"]:
        ensure_packages(NEEDS[target], f"make {target}")
