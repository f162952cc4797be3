"""Starting and stopping a real cosmonaut process for tests that need their own."""
import os
import re
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("COSMONAUT_BIN", os.path.join(REPO, "target", "debug", "cosmonaut"))


class Server:
    def __init__(self, data_dir, partitions=1, extra_args=()):
        self.data_dir = data_dir
        self.partitions = partitions
        self.extra_args = list(extra_args)
        self.process = None
        self.endpoint = None

    def start(self, timeout=20):
        self.process = subprocess.Popen(
            [BINARY, "serve", "--data-dir", self.data_dir, "--port", "0",
             "--partitions", str(self.partitions), *self.extra_args],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"cosmonaut exited with {self.process.wait()}")
            match = re.search(r"listening on (https://\S+)", line)
            if match:
                self.endpoint = match.group(1)
                return self
        raise RuntimeError("cosmonaut did not become ready")

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process.stdout.close()
        return code
