/**
 * The local signing key: an ECDSA P-256 private key in a file outside every
 * evidence folder (default ~/.config/cutline/signing-key.pem, or
 * $CUTLINE_SIGNING_KEY), created on first use with mode 0600; its public key
 * sits next to it as signing-key.pub.pem for auditors.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Signer } from '../../ports';

export function defaultSigningKeyPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.resolve(env.CUTLINE_SIGNING_KEY || path.join(os.homedir(), '.config', 'cutline', 'signing-key.pem'));
}
export const publicKeyPathOf = (keyPath: string) => keyPath.replace(/(\.pem)?$/, '.pub.pem');

export class FileSigner implements Signer {
  readonly keyId: string;
  private readonly key: ReturnType<typeof createPrivateKey>;

  /** Opens (or, the first time, creates) the key; refuses a key inside the evidence folder it would sign. */
  constructor(readonly keyPath: string, evidenceDir?: string) {
    if (evidenceDir) {
      const rel = path.relative(path.resolve(evidenceDir), path.resolve(keyPath));
      if (!rel.startsWith('..') && !path.isAbsolute(rel))
        throw new Error(`signing key ${keyPath} is inside the evidence folder ${evidenceDir}; expected a key outside it (CUTLINE_SIGNING_KEY), or anyone who can edit the evidence could re-sign it`);
    }
    this.keyId = `file:${keyPath}`;
    let pem: string;
    try {
      pem = readFileSync(keyPath, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      pem = create(keyPath);
    }
    this.key = createPrivateKey(pem);
    if (this.key.asymmetricKeyType !== 'ec' || this.key.asymmetricKeyDetails?.namedCurve !== 'prime256v1')
      throw new Error(`signing key ${keyPath} is ${this.key.asymmetricKeyType} ${this.key.asymmetricKeyDetails?.namedCurve ?? ''}; expected an ECDSA P-256 private key (PEM)`);
  }
  async sign(message: Buffer): Promise<Buffer> {
    return sign('sha256', message, { key: this.key, dsaEncoding: 'der' });
  }
  async publicKeyPem(): Promise<string> {
    return createPublicKey(this.key).export({ type: 'spki', format: 'pem' }).toString();
  }
}

/** First use: a new key (exclusive create: two runners starting together end with one key). */
function create(keyPath: string): string {
  mkdirSync(path.dirname(keyPath), { recursive: true, mode: 0o700 });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  // Written whole under a temporary name, then linked into place: a reader never sees half a key, and link fails if another process won.
  const tmp = `${keyPath}.${process.pid}.tmp`;
  writeFileSync(tmp, pem, { mode: 0o600 });
  try {
    linkSync(tmp, keyPath);
    writeFileSync(publicKeyPathOf(keyPath), publicKey.export({ type: 'spki', format: 'pem' }).toString(), { mode: 0o644 });
    return pem;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(keyPath, 'utf8');
    throw e;
  } finally {
    rmSync(tmp, { force: true });
  }
}
