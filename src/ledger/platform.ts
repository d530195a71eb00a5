// Where the process runs: bare metal, a virtual machine (cpuid hypervisor bit, DMI vendor strings, Xen's
// /sys/hypervisor) or a container (/.dockerenv, /run/.containerenv, cgroup paths, an overlay root), and the
// CPUs a cgroup quota allows. Every path is read under a root prefix so tests can use fake /proc and /sys trees.
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Schema } from './json-schema.js';

export interface Platform {
  /** 'virtual-machine' wins over 'container' (a container in a VM is a VM for power figures; `container` says so). */
  kind: 'bare-metal' | 'virtual-machine' | 'container' | 'unknown';
  /** The hypervisor or cloud, when the DMI strings or /sys/hypervisor name it. */
  hypervisor?: string;
  /** The container runtime or orchestrator seen, when any. */
  container?: string;
  /** CPUs the cgroup CPU quota allows (cpu.max or cfs_quota_us / cfs_period_us), when limited. */
  cpuQuota?: number;
  /** What was read, one fact a line, e.g. "/proc/cpuinfo flags include 'hypervisor'". */
  evidence: string[];
}

/** The JSON schema of Platform (the run record's energy.platform). */
export const PLATFORM_SCHEMA: Schema = {
  type: 'object',
  required: ['kind', 'evidence'],
  additionalProperties: false,
  description: 'Where the run ran (bare metal, a VM, a container) and the facts read to tell.',
  properties: {
    kind: { enum: ['bare-metal', 'virtual-machine', 'container', 'unknown'] },
    hypervisor: { type: 'string' },
    container: { type: 'string' },
    cpuQuota: { type: 'number', exclusiveMinimum: 0 },
    evidence: { type: 'array', items: { type: 'string' } },
  },
};

/** DMI vendor / product strings of virtual machines: [pattern, the name recorded]. */
const DMI_VMS: readonly [RegExp, string][] = [
  [/Amazon EC2/i, 'Amazon EC2'],
  [/Google Compute Engine|^Google$/i, 'Google Compute Engine'],
  [/Microsoft Corporation.*Virtual Machine|Hyper-V/i, 'Microsoft Hyper-V (Azure)'],
  [/VMware/i, 'VMware'],
  [/\bXen\b|HVM domU/i, 'Xen'],
  [/QEMU/i, 'QEMU'],
  [/\bKVM\b/i, 'KVM'],
  [/VirtualBox|innotek/i, 'VirtualBox'],
  [/Parallels/i, 'Parallels'],
  [/OpenStack/i, 'OpenStack'],
  [/BHYVE/i, 'bhyve'],
  [/Alibaba Cloud/i, 'Alibaba Cloud'],
  [/DigitalOcean/i, 'DigitalOcean'],
  [/Hetzner/i, 'Hetzner Cloud'],
  [/Oracle.*(Cloud|OCI)|OracleCloud/i, 'Oracle Cloud'],
  [/Firecracker/i, 'Firecracker'],
];

/** cgroup path fragments of container runtimes: [pattern, the name recorded]. */
const CGROUP_RUNTIMES: readonly [RegExp, string][] = [
  [/kubepods/, 'kubernetes'],
  [/docker/, 'docker'],
  [/libpod/, 'podman'],
  [/containerd|cri-containerd/, 'containerd'],
  [/\/lxc\b|lxc\.payload/, 'lxc'],
];

function read(root: string, path: string): string | undefined {
  try {
    return readFileSync(join(root, path), 'utf8');
  } catch {
    return undefined;
  }
}

/** CPUs allowed by the cgroup CPU quota (v2 cpu.max, else v1 cfs), with the file read; undefined when unlimited. */
export function cgroupCpuQuota(root = '/'): { cpus: number; from: string } | undefined {
  // cgroup v2: the process's own cgroup (from /proc/self/cgroup '0::/path'), then the root of the hierarchy.
  const own = /^0::(\/.*)$/m.exec(read(root, 'proc/self/cgroup') ?? '')?.[1];
  const v2 = [...new Set([own ? join('sys/fs/cgroup', own, 'cpu.max') : '', 'sys/fs/cgroup/cpu.max'])].filter(Boolean);
  for (const path of v2) {
    const text = read(root, path)?.trim();
    if (text === undefined) continue;
    const [quota, period] = text.split(/\s+/);
    if (quota === 'max') return undefined;
    const cpus = Number(quota) / Number(period ?? 100000);
    if (Number.isFinite(cpus) && cpus > 0) return { cpus, from: `/${path} = '${text}'` };
  }
  for (const dir of ['sys/fs/cgroup/cpu', 'sys/fs/cgroup/cpu,cpuacct', 'sys/fs/cgroup/cpuacct,cpu']) {
    const quota = Number(read(root, `${dir}/cpu.cfs_quota_us`)?.trim());
    const period = Number(read(root, `${dir}/cpu.cfs_period_us`)?.trim());
    if (!(quota > 0 && period > 0)) continue;
    return { cpus: quota / period, from: `/${dir}/cpu.cfs_quota_us = ${quota}, cpu.cfs_period_us = ${period}` };
  }
  return undefined;
}

/**
 * Detects the platform from files under `root` (default '/'): the 'hypervisor' cpuinfo flag (the cpuid
 * hypervisor-present bit, CPUID.1:ECX[31], which every mainstream hypervisor sets), DMI strings
 * (/sys/class/dmi/id), /sys/hypervisor/type, container markers and the cgroup CPU quota. Bare metal is said
 * only where /proc/cpuinfo was read and showed no sign of a hypervisor; 'unknown' where it could not be read.
 */
export function detectPlatform(root = '/'): Platform {
  const evidence: string[] = [];
  let hypervisor: string | undefined;
  let vm = false;
  const cpuinfo = read(root, 'proc/cpuinfo');
  const flags = /^flags\s*:\s*(.*)$/m.exec(cpuinfo ?? '')?.[1]?.split(/\s+/) ?? [];
  if (flags.includes('hypervisor')) {
    vm = true;
    evidence.push("/proc/cpuinfo flags include 'hypervisor' (cpuid hypervisor-present bit)");
  }
  for (const field of ['sys_vendor', 'product_name', 'board_vendor', 'bios_vendor']) {
    const value = read(root, `sys/class/dmi/id/${field}`)?.trim();
    if (!value) continue;
    const hit = DMI_VMS.find(([re]) => re.test(value));
    if (!hit) continue;
    vm = true;
    hypervisor ??= hit[1];
    evidence.push(`/sys/class/dmi/id/${field} = '${value}'`);
  }
  const xen = read(root, 'sys/hypervisor/type')?.trim();
  if (xen) {
    vm = true;
    hypervisor ??= xen === 'xen' ? 'Xen' : xen;
    evidence.push(`/sys/hypervisor/type = '${xen}'`);
  }
  let container: string | undefined;
  if (existsSync(join(root, '.dockerenv'))) {
    container = 'docker';
    evidence.push('/.dockerenv exists');
  }
  if (existsSync(join(root, 'run/.containerenv'))) {
    container ??= 'podman';
    evidence.push('/run/.containerenv exists');
  }
  const cgroup = read(root, 'proc/1/cgroup') ?? '';
  const runtime = CGROUP_RUNTIMES.find(([re]) => re.test(cgroup));
  if (runtime) {
    container ??= runtime[1];
    evidence.push(`/proc/1/cgroup names ${runtime[1]}`);
  }
  const rootMount = (read(root, 'proc/self/mountinfo') ?? '').split('\n').find((l) => l.split(' ')[4] === '/');
  if (rootMount && / - overlay /.test(rootMount)) {
    container ??= 'overlay root filesystem';
    evidence.push('/proc/self/mountinfo: the root filesystem is an overlay');
  }
  const quota = cgroupCpuQuota(root);
  if (quota) evidence.push(`cgroup CPU quota: ${quota.from} (${quota.cpus} CPUs)`);
  const kind = vm ? 'virtual-machine' : container ? 'container' : cpuinfo !== undefined ? 'bare-metal' : 'unknown';
  if (kind === 'bare-metal')
    evidence.push("/proc/cpuinfo has no 'hypervisor' flag and no DMI string names a hypervisor");
  if (kind === 'unknown') evidence.push('/proc/cpuinfo could not be read (not Linux?)');
  return {
    kind,
    ...(hypervisor ? { hypervisor } : {}),
    ...(container ? { container } : {}),
    ...(quota ? { cpuQuota: quota.cpus } : {}),
    evidence,
  };
}

const watts = {
  type: 'object',
  required: ['minWatts', 'maxWatts', 'basis', 'source'],
  additionalProperties: false,
  properties: {
    minWatts: { type: 'number', minimum: 0 },
    maxWatts: { type: 'number', minimum: 0 },
    basis: { type: 'string' },
    source: { type: 'string' },
  },
};

/** The energy report's fields added with platform detection (spread into the energy schema's properties). */
export const ENERGY_PLATFORM_PROPERTIES: Record<string, Schema> = {
  platform: PLATFORM_SCHEMA,
  assumptions: {
    type: 'array',
    items: { type: 'string' },
    description: 'Every assumption the energy figure rests on, one sentence each, with its source.',
  },
  vcpu: {
    type: 'object',
    required: ['vcpus', 'utilization', 'central', 'low', 'high'],
    additionalProperties: false,
    description: "A VM estimate's per-vCPU watts (idle, full load): the central figure and the range's ends.",
    properties: {
      vcpus: { type: 'number', minimum: 0 },
      utilization: { type: 'number', minimum: 0, maximum: 1 },
      central: watts,
      low: watts,
      high: watts,
    },
  },
};
