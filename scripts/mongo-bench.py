#!/usr/bin/env python3
"""A YCSB-like workload through pymongo against MongoDB-protocol servers, in
one run, so their figures are comparable: load N documents of about 1 KB,
then for each workload (A: 50% reads 50% updates; B: 95/5; C: reads only;
I: inserts) run T client threads for D seconds against each server in
turn. Reports operations per second, p50/p99 latency, and for a server
whose pid is given, its CPU time per operation (from /proc, so the load
generator's share does not count).

  python scripts/mongo-bench.py --url NAME=mongodb://... [--pid NAME=PID] ...
      [--docs 20000] [--threads 8] [--seconds 10]

Start Cosmonaut with `cosmonaut serve --mongo-plain-port 27017` (a release
build); any other server with a MongoDB endpoint can be named beside it."""
import argparse
import os
import random
import statistics
import threading
import time

from pymongo import MongoClient

WORKLOADS = {"A": 0.5, "B": 0.95, "C": 1.0, "I": None}


def cpu_seconds(pid):
    if pid is None:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(coll, docs):
    coll.drop()
    payload = "x" * 900
    batch = []
    for i in range(docs):
        batch.append({"_id": f"user{i}", "n": i, "field0": payload, "tag": i % 100})
        if len(batch) == 1000:
            coll.insert_many(batch, ordered=False)
            batch = []
    if batch:
        coll.insert_many(batch, ordered=False)


def run(coll, workload, docs, threads, seconds):
    read_share = WORKLOADS[workload]
    latencies, stop = [], time.time() + seconds
    lock = threading.Lock()
    inserted = iter(range(docs, docs * 100))

    def client():
        mine = []
        rnd = random.Random()
        while time.time() < stop:
            started = time.perf_counter()
            if read_share is None:
                coll.insert_one({"_id": f"user{next(inserted)}", "field0": "y" * 900, "tag": 0})
            elif rnd.random() < read_share:
                coll.find_one({"_id": f"user{rnd.randrange(docs)}"})
            else:
                coll.update_one({"_id": f"user{rnd.randrange(docs)}"}, {"$set": {"field0": "z" * 900}})
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=client) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return latencies


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", action="append", required=True, help="NAME=mongodb://...")
    parser.add_argument("--pid", action="append", default=[], help="NAME=PID of that server, for CPU per operation")
    parser.add_argument("--docs", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workloads", default="A,B,C,I")
    args = parser.parse_args()
    urls = dict(u.split("=", 1) for u in args.url)
    pids = {k: int(v) for k, v in (p.split("=", 1) for p in args.pid)}
    print(f"{'server':<12} {'workload':<8} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/op':>10}")
    clients = {name: MongoClient(url, maxPoolSize=args.threads + 2) for name, url in urls.items()}
    for name, client in clients.items():
        load(client.ycsb.usertable, args.docs)
    for workload in args.workloads.split(","):
        for name, client in clients.items():
            before = cpu_seconds(pids.get(name))
            latencies = run(client.ycsb.usertable, workload, args.docs, args.threads, args.seconds)
            after = cpu_seconds(pids.get(name))
            ops = len(latencies)
            latencies.sort()
            p50 = statistics.median(latencies) * 1000
            p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
            cpu = f"{(after - before) / ops * 1e6:10.0f}" if before is not None else f"{'-':>10}"
            print(f"{name:<12} {workload:<8} {ops / args.seconds:9.0f} {p50:8.2f} {p99:8.2f} {cpu}")
    for client in clients.values():
        client.drop_database("ycsb")
        client.close()


if __name__ == "__main__":
    main()
