// The trust commands' reports: `candor ledger verify` (UNSIGNED, untrusted keys), `candor verify RUN_DIR`
// (one line per check) and `candor key export|trust|list`. main.ts parses the arguments.
import { readFile, writeFile } from 'node:fs/promises';
import { CandorError } from '../errors.js';
import { keyIdOf, verifyLedger } from '../ledger/ledger.js';
import { verifyRun, type RunVerification, type VerifyRunOptions } from '../ledger/verify-run.js';
import {
  parsePublicKeys,
  publicKeyPem,
  trustKeys,
  trustedKeys,
  trustedKeysPath,
  userSigningKey,
  type TrustedKey,
} from '../ledger/user-keys.js';

type Out = { log: (s: string) => void; error: (s: string) => void };

const short = (keyId: string): string => `${keyId.slice(0, 16)}...`;

/** The keys --public-key FILE names, or else the user's trusted keys (the trusted-keys file and own key). */
export async function keysToTrust(publicKeyFile: string | undefined): Promise<TrustedKey[]> {
  if (publicKeyFile === undefined) return trustedKeys();
  let text: string;
  try {
    text = await readFile(publicKeyFile, 'utf8');
  } catch (e) {
    throw new CandorError(`cannot read public key ${publicKeyFile}: ${(e as Error).message}`);
  }
  const keys = parsePublicKeys(text, publicKeyFile);
  if (keys.length === 0) throw new CandorError(`${publicKeyFile} holds no PEM public key`);
  return keys.map((publicKey) => ({ keyId: keyIdOf(publicKey), publicKey, source: `--public-key ${publicKeyFile}` }));
}

const TRUST_HINT =
  'trust a signer with `candor key trust PUBLIC_KEY_FILE` (its `candor key export`), or name it with --public-key';

/**
 * `candor ledger verify`: OK only when the chain is intact and every entry is signed by a trusted key;
 * UNSIGNED (exit 1 unless allowUnsigned) when entries carry no signature; FAILED naming the first bad entry.
 */
export async function ledgerVerifyCommand(
  file: string,
  options: { publicKeyFile?: string; head?: string; allowUnsigned: boolean },
  out: Out,
): Promise<number> {
  const keys = await keysToTrust(options.publicKeyFile);
  const r = await verifyLedger(file, {
    trustedKeys: keys.map((k) => k.publicKey),
    allowUnsigned: true,
    expectedHead: options.head ? { entryHash: options.head } : undefined,
  });
  if (!r.ok) {
    const bad = r.firstBad!;
    out.error(
      `FAILED: ${file}: first bad entry at line ${bad.line}` +
        (bad.index !== undefined
          ? ` (claims index ${bad.index}, expected ${bad.expectedIndex})`
          : ` (expected index ${bad.expectedIndex})`) +
        ` [${bad.kind}]\n  ${bad.reason}\n  ${r.entries} entries before it verified` +
        (bad.kind === 'signature' && !options.publicKeyFile
          ? `\n  trusted keys: ${keys.map((k) => `${short(k.keyId)} (${k.source})`).join(', ') || 'none'}` +
            `; ${TRUST_HINT}`
          : ''),
    );
    return 1;
  }
  const lines: string[] = [];
  const unsigned = r.trust.unsignedEntries;
  const signedBy = r.trust.signers.map(
    (id) => `  signed by ${short(id)} (${keys.find((k) => k.keyId === id)?.source})`,
  );
  const head = r.head ? `head: entry ${r.head.index} ${r.head.entryHash}` : '';
  if (r.trust.legacyEntries.length)
    lines.push(
      `note: ${r.trust.legacyEntries.length} entries are signed in the old scheme (over the bare entryHash, ` +
        'without the candor-ledger-entry-v1 prefix); they verify, but new entries should be signed by this version',
    );
  if (unsigned.length) {
    const loud =
      `UNSIGNED: ${file}: ${unsigned.length} of ${r.entries} entries carry no signature ` +
      `(index ${unsigned.join(', ')}): anyone who can write this file can edit them and recompute every hash, ` +
      'so the chain proves nothing about them';
    if (!options.allowUnsigned) {
      out.error(`${loud}\n  (the chain itself is intact; --allow-unsigned accepts unsigned entries)`);
      return 1;
    }
    out.log([`${loud} (allowed by --allow-unsigned)`, ...signedBy, ...lines, head].filter((l) => l).join('\n'));
    return 0;
  }
  out.log(
    [
      `OK: ${file}: ${r.entries} entries, chain intact, every entry signed by a trusted key`,
      ...signedBy,
      ...lines,
      head,
    ]
      .filter((l) => l)
      .join('\n'),
  );
  return 0;
}

/** One line per check, then a verdict. */
export function formatRunVerification(v: RunVerification): string[] {
  const width = Math.max(...v.checks.map((c) => c.check.length));
  const lines = v.checks.map((c) => `${c.ok ? 'OK  ' : 'FAIL'}  ${c.check.padEnd(width)}  ${c.detail}`);
  const failed = v.checks.filter((c) => !c.ok).map((c) => c.check);
  lines.push(
    failed.length
      ? `FAILED: ${v.dir}: ${failed.length} of ${v.checks.length} checks failed (${failed.join(', ')})`
      : `VERIFIED: ${v.dir}: the run record, ledger entry, model files, card and emissions.csv are as signed by a ` +
          'trusted key',
  );
  return lines;
}

/** `candor verify RUN_DIR`: exit 0 only when every check passes. */
export async function verifyCommand(
  dir: string,
  options: VerifyRunOptions & { publicKeyFile?: string; json: boolean },
  out: Out,
): Promise<number> {
  const keys = await keysToTrust(options.publicKeyFile);
  const v = await verifyRun(dir, { ...options, trustedKeys: keys });
  if (options.json) out.log(JSON.stringify(v, null, 2));
  else {
    const lines = formatRunVerification(v);
    (v.ok ? out.log : out.error)(lines.join('\n'));
  }
  return v.ok ? 0 : 1;
}

/** `candor key export [--out FILE]`, `candor key trust FILE`, `candor key list`. */
export async function keyCommand(sub: string, pos: string[], options: { out?: string }, out: Out): Promise<number> {
  switch (sub) {
    case 'export': {
      const key = userSigningKey();
      if (key.created) out.error(`made a new signing key at ${key.path}`);
      const pem = publicKeyPem(key.publicKey);
      if (options.out) {
        await writeFile(options.out, pem);
        out.log(`wrote the public half of your key ${short(key.keyId)} to ${options.out}`);
      } else out.log(pem.trimEnd());
      return 0;
    }
    case 'trust': {
      let text: string;
      try {
        text = await readFile(pos[0], 'utf8');
      } catch (e) {
        throw new CandorError(`cannot read ${pos[0]}: ${(e as Error).message}`);
      }
      for (const k of trustKeys(text, pos[0]))
        out.log(`${k.added ? 'trusted' : 'already trusted'}: key ${k.keyId} (in ${trustedKeysPath()})`);
      return 0;
    }
    case 'list': {
      const keys = trustedKeys();
      out.log(
        keys.length
          ? keys.map((k) => `${k.keyId}  ${k.source}`).join('\n')
          : `no trusted keys (${trustedKeysPath()} does not exist and you have no signing key yet)`,
      );
      return 0;
    }
    default:
      throw new CandorError(`unreachable key command ${sub}`);
  }
}
