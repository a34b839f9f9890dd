"""CPU per request of HTTP client options against the simulator, side by side.

    python -m wawp_tui.devtools.transport_bench [--requests 2000] [--concurrency 16] [--rounds 3]

Starts `python -m wawp_tui simulate` in its own process (scenario healthy, 0 ms latency),
then for each round runs every client variant in a fresh subprocess (so imports and
start-up are not counted and no variant inherits another's state): 200 warm-up requests,
then --requests POST /v2/session/info calls with --concurrency workers, timed with the
process's own CPU clock. Prints the median over the rounds per variant. The httpx-aiohttp variant needs
`pip install httpx-aiohttp` (not a dependency of the project); it is skipped without it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time

from wawp_tui.children import dies_with_this_process

VARIANTS = ["httpx-default", "httpx-aiohttp", "wawp-transport", "aiohttp", "raw-streams",
            "WawpClient-default", "WawpClient-wawp-transport"]
PATH = "/v2/session/info"
TOKEN = "demo-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def instance_ids(count: int) -> list[str]:
    from wawp_tui.simulator import build_scenario
    return [i.id for i in build_scenario("healthy", seed=0, instances=count)]


# -- one variant, in a child process ------------------------------------------------------

async def drive(call, ids, requests, concurrency, warmup=200):
    async def run(count):
        it = iter(range(count))

        async def worker():
            for n in it:
                await call(ids[n % len(ids)])
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    await run(warmup)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await run(requests)
    return time.process_time() - cpu0, time.perf_counter() - wall0


def httpx_client(url, transport):
    import httpx
    return httpx.AsyncClient(
        base_url=url, timeout=httpx.Timeout(10.0, connect=5.0, pool=None),
        limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
        headers={"User-Agent": "wawp-tui", "Accept": "application/json"},
        transport=transport, follow_redirects=False)


async def child(variant, url, ids, requests, concurrency):
    # (Long on purpose: one branch per client variant, side by side, so what each variant
    # does per request can be compared by reading one function.)
    if variant in ("httpx-default", "httpx-aiohttp", "wawp-transport"):
        transport: httpx.AsyncBaseTransport | None = None
        if variant == "httpx-aiohttp":
            import httpx
            from httpx_aiohttp import AiohttpTransport
            transport = AiohttpTransport(limits=httpx.Limits(max_connections=64,
                                                             max_keepalive_connections=32))
        elif variant == "wawp-transport":
            from wawp_tui.client.transport import make_transport
            transport = make_transport(max_connections=64, keepalive=32, connect_timeout=5.0)
        async with httpx_client(url, transport) as client:
            async def call(iid):
                r = await client.post(PATH, json={"instance_id": iid, "access_token": TOKEN})
                assert r.status_code == 200, r.status_code
                assert r.json()["status"]
            return await drive(call, ids, requests, concurrency)
    if variant.startswith("WawpClient"):
        from wawp_tui.client.api import WawpClient
        from wawp_tui.models import InstanceConfig, Secret
        transport = None
        if variant.endswith("wawp-transport"):
            from wawp_tui.client.transport import make_transport
            transport = make_transport(max_connections=64, keepalive=32, connect_timeout=5.0)
        insts = {i: InstanceConfig(id=i, label=i, token=Secret(TOKEN)) for i in ids}
        async with WawpClient(url, transport=transport, max_concurrency=concurrency) as client:
            async def call(iid):
                assert (await client.info(insts[iid])).status
            return await drive(call, ids, requests, concurrency)
    if variant == "aiohttp":
        import aiohttp
        async with aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=64),
                headers={"User-Agent": "wawp-tui", "Accept": "application/json"}) as session:
            async def call(iid):
                async with session.post(url + PATH, json={"instance_id": iid,
                                                          "access_token": TOKEN}) as r:
                    assert r.status == 200
                    assert json.loads(await r.read())["status"]
            return await drive(call, ids, requests, concurrency)
    if variant == "raw-streams":
        host, port = url.removeprefix("http://").split(":")
        pool: list = []

        async def call(iid):
            conn = pool.pop() if pool else await asyncio.open_connection(host, int(port))
            reader, writer = conn
            body = json.dumps({"instance_id": iid, "access_token": TOKEN}).encode()
            writer.write(b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (PATH.encode(), host.encode(),
                                                           len(body), body))
            head = await reader.readuntil(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200")
            length, chunked = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding" and b"chunked" in value.lower():
                    chunked = True
            if chunked:
                parts = []
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    data = await reader.readexactly(size + 2)
                    if not size:
                        break
                    parts.append(data[:-2])
                payload = b"".join(parts)
            else:
                payload = await reader.readexactly(length)
            assert json.loads(payload)["status"]
            pool.append(conn)
        try:
            return await drive(call, ids, requests, concurrency)
        finally:
            for _, writer in pool:
                writer.close()
    raise SystemExit(f"unknown variant {variant}")


def child_main(argv):
    variant, url, requests, concurrency, count = argv
    ids = instance_ids(int(count))
    try:
        cpu, wall = asyncio.run(child(variant, url, ids, int(requests), int(concurrency)))
    except ImportError as exc:  # e.g. httpx-aiohttp, not a dependency of the project
        print(json.dumps({"skip": str(exc)}))
        return
    print(json.dumps({"cpu": cpu, "wall": wall}))


# -- the parent ------------------------------------------------------------------------------

def main():
    # (Long on purpose: the options, the simulator's lifetime and the rounds read in order.)
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child_main(sys.argv[2:])
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    variants = args.variants.split(",")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([sys.executable, "-m", "wawp_tui", "simulate", "--port", str(port),
                               "--instances", str(args.instances), "--scenario", "healthy"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              preexec_fn=dies_with_this_process())
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit("simulator did not start") from None
                time.sleep(0.1)
        results: dict[str, list[dict]] = {v: [] for v in variants}
        for round_no in range(args.rounds):
            order = variants[round_no % len(variants):] + variants[:round_no % len(variants)]
            for variant in order:
                out = subprocess.run([sys.executable, __file__, "--child", variant, url,
                                      str(args.requests), str(args.concurrency),
                                      str(args.instances)],
                                     capture_output=True, text=True, check=False,
                                     preexec_fn=dies_with_this_process())
                if out.returncode != 0:
                    print(f"{variant}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                result = json.loads(out.stdout.strip().splitlines()[-1])
                if "skip" in result:
                    print(f"{variant}: skipped ({result['skip']})", file=sys.stderr)
                    continue
                results[variant].append(result)
        print(f"{args.requests} requests, concurrency {args.concurrency}, {args.rounds} rounds, "
              f"medians (all runs in ms CPU/request)")
        print(f"{'variant':28} {'CPU ms/req':>10} {'req/s wall':>10} {'x floor':>8}  runs")
        floor = (statistics.median(r["cpu"] for r in results["raw-streams"]) / args.requests
                 if results.get("raw-streams") else None)
        for variant in variants:
            runs = results[variant]
            if not runs:
                continue
            cpu = statistics.median(r["cpu"] for r in runs) / args.requests
            rps = args.requests / statistics.median(r["wall"] for r in runs)
            ratio = f"{cpu / floor:8.1f}" if floor else "       -"
            each = " ".join(f"{r['cpu'] / args.requests * 1000:.3f}" for r in runs)
            print(f"{variant:28} {cpu * 1000:10.3f} {rps:10.0f} {ratio}  {each}")
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
