"""Starting and stopping a real cosmonaut process for tests that need their own."""
import os
import re
import signal
import subprocess
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.environ.get("COSMONAUT_BIN", os.path.join(REPO, "target", "debug", "cosmonaut"))


class Server:
    def __init__(self, data_dir, partitions=1, extra_args=(), env=None):
        self.data_dir = data_dir
        self.partitions = partitions
        self.extra_args = list(extra_args)
        self.env = env
        self.process = None
        self.endpoint = None
        # Beside the data dir, not in it: a data dir to restore into must stay empty.
        self.log_path = data_dir.rstrip("/") + ".log"
        self.output = []

    def start(self, timeout=30):
        env = dict(os.environ, **(self.env or {}))
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [BINARY, "serve", "--data-dir", self.data_dir, "--port", "0",
                 "--partitions", str(self.partitions), *self.extra_args],
                stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            line = self.process.stdout.readline()
            self.output.append(line)
            if not line:
                code = self.process.wait()
                raise RuntimeError(f"cosmonaut exited with {code}: {self.errors()}")
            match = re.search(r"listening on (https://\S+)", line)
            if match:
                self.endpoint = match.group(1)
                return self
        raise RuntimeError("cosmonaut did not become ready")

    def errors(self):
        """What the process wrote to stderr so far."""
        with open(self.log_path) as log:
            return log.read()

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=30)
        self.process.stdout.close()
        return code
