/**
 * The manifest root, signed: whoever can edit the evidence can rebuild its hash
 * chain, but not sign the new root without the key (a KMS asymmetric key in
 * AWS, a key file outside the evidence folder locally). Verification uses a
 * public key the auditor obtained outside the evidence, never one it carries.
 * ECDSA P-256 over SHA-256, DER-encoded: what KMS ECDSA_SHA_256 returns.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import type { Signer } from '../ports';

export interface RootSignature {
  /** The key that signed: a KMS key ARN, or the local key's file name. */
  readonly keyId: string;
  readonly algorithm: 'ECDSA_SHA_256';
  /** SHA-256 of the public key (SubjectPublicKeyInfo DER), to tell which key signed without trusting it. */
  readonly publicKeySha256: string;
  /** Base64 DER signature. */
  readonly value: string;
}

/** What is signed: the run, what the root closes (the manifest or addendum N) and the root. */
export function signedMessage(runId: string, sealed: 'manifest' | `addendum ${number}`, root: string): Buffer {
  return Buffer.from(`cutline-root-v1\n${runId}\n${sealed}\n${root}`, 'utf8');
}

export async function signRoot(signer: Signer, runId: string, sealed: 'manifest' | `addendum ${number}`, root: string): Promise<RootSignature> {
  const value = await signer.sign(signedMessage(runId, sealed, root));
  return { keyId: signer.keyId, algorithm: 'ECDSA_SHA_256', publicKeySha256: publicKeySha256(await signer.publicKeyPem()), value: value.toString('base64') };
}

export function publicKeySha256(pem: string): string {
  return createHash('sha256')
    .update(createPublicKey(pem).export({ type: 'spki', format: 'der' }))
    .digest('hex');
}

/** "the manifest", "addendum 2": how messages name what a root closes. */
export const sealedLabel = (sealed: 'manifest' | `addendum ${number}`) => (sealed === 'manifest' ? 'the manifest' : sealed);

export type SignatureCheck = { ok: true } | { ok: false; detail: string };

/** Checks a root's signature with a public key from outside the evidence. */
export function checkRootSignature(sig: RootSignature | undefined, publicKeyPem: string, runId: string, sealed: 'manifest' | `addendum ${number}`, root: string): SignatureCheck {
  const label = sealedLabel(sealed);
  if (!sig) return { ok: false, detail: `${label} carries no signature` };
  const expected = publicKeySha256(publicKeyPem);
  if (sig.publicKeySha256 !== expected)
    return { ok: false, detail: `${label} was signed by key ${sig.keyId} (public key sha256 ${sig.publicKeySha256.slice(0, 16)}…), not by the key you verify with (${expected.slice(0, 16)}…)` };
  const good = verify('sha256', signedMessage(runId, sealed, root), { key: publicKeyPem, dsaEncoding: 'der' }, Buffer.from(sig.value, 'base64'));
  return good ? { ok: true } : { ok: false, detail: `the signature of ${label} does not match its root: it was rebuilt or its signature copied from another` };
}
