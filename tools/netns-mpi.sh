#!/usr/bin/env bash
# Two machines on one: runs an MPI job across two network namespaces joined by a veth pair (10.77.0.1/24 and
# 10.77.0.2/24), over MPI's TCP transport only, each rank in its own namespace with its own hostname.
# Usage (root): tools/netns-mpi.sh [--np N] [--keep-going] PROGRAM [ARGS...]   (N >= 2, default 2; ranks alternate
# between the two namespaces, mpirun's round-robin mapping). Before the job it runs a probe under the same
# mpirun (each rank prints its hostname, its addresses and the inode of its network namespace); around the job
# it reads the veth's byte counters. Its last line is JSON: {"namespaces":[..],"probe":[..],"veth":{..},"code":N}.
# The namespaces, the veth pair and the rsh agent are removed on every exit (trap), and are named after this
# shell's pid, so runs in parallel do not collide. Needs iproute2 (ip netns), util-linux (unshare), mpirun.
set -euo pipefail

np=2
while [[ $# -gt 0 ]]; do
  case "$1" in
    --np) np="$2"; shift 2 ;;
    --) shift; break ;;
    -*) echo "netns-mpi: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [[ $# -eq 0 ]]; then
  echo "usage: tools/netns-mpi.sh [--np N] PROGRAM [ARGS...]" >&2
  exit 2
fi
[[ "$(id -u)" == 0 ]] || { echo "netns-mpi: needs root (ip netns add)" >&2; exit 77; }
for tool in ip unshare mpirun; do
  command -v "$tool" >/dev/null || { echo "netns-mpi: $tool is not installed" >&2; exit 77; }
done

id="$$"
ns_a="candor-$id-a" ns_b="candor-$id-b"
# Interface names are at most 15 bytes; they live only inside the namespaces, but are unique anyway.
veth_a="cnd${id}a" veth_b="cnd${id}b"
ip_a=10.77.0.1 ip_b=10.77.0.2 subnet=10.77.0.0/24
host_a="candor-$id-a" host_b="candor-$id-b"
work="$(mktemp -d)"

job=""
cleanup() {
  # mpirun passes SIGTERM on to its ranks; then deleting a namespace deletes the veth end inside it, and the pair.
  if [[ -n "$job" ]] && kill -0 "$job" 2>/dev/null; then
    kill -TERM "$job" 2>/dev/null || true
    wait "$job" 2>/dev/null || true
  fi
  # Deleting a namespace deletes the veth end inside it, and with it the pair.
  ip netns del "$ns_a" 2>/dev/null || true
  ip netns del "$ns_b" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

ip netns add "$ns_a"
ip netns add "$ns_b"
ip link add "$veth_a" netns "$ns_a" type veth peer name "$veth_b" netns "$ns_b"
ip -n "$ns_a" addr add "$ip_a/24" dev "$veth_a"
ip -n "$ns_b" addr add "$ip_b/24" dev "$veth_b"
for ns in "$ns_a" "$ns_b"; do
  ip -n "$ns" link set lo up
done
ip -n "$ns_a" link set "$veth_a" up
ip -n "$ns_b" link set "$veth_b" up

# mpirun's rsh agent: instead of ssh to HOST, run the command in HOST's namespace under its own hostname (a UTS
# namespace each, so the ranks see two hosts). Open MPI calls it as `agent HOST COMMAND...`, the command being a
# shell line, as ssh would take it.
agent="$work/rsh-agent"
cat >"$agent" <<EOF
#!/bin/sh
host="\$1"; shift
case "\$host" in
  $ip_a|$host_a) ns=$ns_a; name=$host_a ;;
  $ip_b|$host_b) ns=$ns_b; name=$host_b ;;
  *) echo "netns-mpi agent: unknown host \$host" >&2; exit 1 ;;
esac
exec ip netns exec "\$ns" unshare --uts /bin/sh -c "hostname \$name && exec \$*"
EOF
chmod +x "$agent"

bytes() { ip netns exec "$ns_a" cat "/sys/class/net/$veth_a/statistics/$1"; }

# Slots: each host takes ceil(np / 2) ranks, and --map-by node alternates them (rank 0 in a, rank 1 in b, ...).
slots=$(((np + 1) / 2))
mpi=(
  mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$np"
  --host "$ip_a:$slots,$ip_b:$slots" --map-by node
  --mca plm_rsh_agent "$agent"
  --mca btl self,tcp --mca btl_tcp_if_include "$subnet" --mca oob_tcp_if_include "$subnet"
  --mca btl_base_warn_component_unused 0
)
# mpirun itself runs in the first namespace, under the first host's name.
# (An array, not a function: a function in the background would be a subshell, and the job's pid not mpirun's.)
in_a=(ip netns exec "$ns_a" unshare --uts /bin/sh -c "hostname $host_a && exec \"\$0\" \"\$@\"")

probe='printf "{\"rank\":%s,\"host\":\"%s\",\"netns\":\"%s\",\"addresses\":\"%s\"}\n" "$OMPI_COMM_WORLD_RANK" '
probe+='"$(hostname)" "$(readlink /proc/self/ns/net)" "$(ip -4 -o addr show scope global | '
probe+='awk "{print \$2\" \"\$4}" | tr "\n" " " | sed "s/ $//")"'
echo "netns-mpi: $ns_a ($ip_a, $veth_a) <-> $ns_b ($ip_b, $veth_b); mpirun -np $np over tcp on $subnet" >&2
probe_out="$("${in_a[@]}" "${mpi[@]}" /bin/sh -c "$probe" | sort)"
echo "$probe_out"

tx0=$(bytes tx_bytes) rx0=$(bytes rx_bytes)
# In the background and waited for, so that a signal to this script runs the trap at once (and stops the job).
"${in_a[@]}" "${mpi[@]}" "$@" &
job=$!
code=0
wait "$job" || code=$?
job=""
tx1=$(bytes tx_bytes) rx1=$(bytes rx_bytes)

probe_json="$(echo "$probe_out" | paste -sd, -)"
printf '{"namespaces":["%s","%s"],"probe":[%s],"veth":{"interface":"%s","txBytes":%d,"rxBytes":%d},"code":%d}\n' \
  "$ns_a" "$ns_b" "$probe_json" "$veth_a" $((tx1 - tx0)) $((rx1 - rx0)) "$code"
exit "$code"
