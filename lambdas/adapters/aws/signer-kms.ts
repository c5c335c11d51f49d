/** Signs with a KMS asymmetric key (ECC_NIST_P256, SIGN_VERIFY): the private key never leaves KMS. */
import { createHash, createPublicKey } from 'node:crypto';
import { GetPublicKeyCommand, type KMSClient, SignCommand } from '@aws-sdk/client-kms';
import type { Signer } from '../../ports';

export class KmsSigner implements Signer {
  private pem?: string;
  constructor(
    private readonly kms: KMSClient,
    readonly keyId: string,
  ) {}
  async sign(message: Buffer): Promise<Buffer> {
    // KMS signs a digest we compute (MessageType DIGEST): the same as signing the message with ECDSA_SHA_256.
    const digest = createHash('sha256').update(message).digest();
    const r = await this.kms.send(new SignCommand({ KeyId: this.keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
    if (!r.Signature) throw new Error(`KMS Sign with key ${this.keyId} returned no signature`);
    return Buffer.from(r.Signature);
  }
  async publicKeyPem(): Promise<string> {
    this.pem ??= await kmsPublicKeyPem(this.kms, this.keyId);
    return this.pem;
  }
}

/** The public key of a KMS key as PEM (what an auditor exports once with `aws kms get-public-key`). */
export async function kmsPublicKeyPem(kms: KMSClient, keyId: string): Promise<string> {
  const r = await kms.send(new GetPublicKeyCommand({ KeyId: keyId }));
  if (!r.PublicKey) throw new Error(`KMS GetPublicKey for ${keyId} returned no key`);
  if (r.KeySpec !== 'ECC_NIST_P256') throw new Error(`KMS key ${keyId} is ${r.KeySpec}; expected ECC_NIST_P256 (SIGN_VERIFY)`);
  return createPublicKey({ key: Buffer.from(r.PublicKey), format: 'der', type: 'spki' }).export({ type: 'spki', format: 'pem' }).toString();
}
