import { constants, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ListenerError } from '../core/errors.js';

/**
 * Kalshi's logon signature: RSASSA-PSS, SHA-256, MGF1(SHA-256), salt = 32 bytes, over
 * `SendingTime ␁ A ␁ MsgSeqNum ␁ SenderCompID ␁ TargetCompID`, base64 in RawData(96).
 * (kalshi-fix-margin.md §2.3; the values must be byte-for-byte those placed in 52, 34, 49, 56.)
 */
export interface LogonSignatureInput {
  sendingTime: string;
  msgSeqNum: number;
  senderCompId: string;
  targetCompId: string;
}

const SALT_LENGTH = 32;

export function logonPreHash(input: LogonSignatureInput): Buffer {
  return Buffer.from(
    `${input.sendingTime}\x01A\x01${input.msgSeqNum}\x01${input.senderCompId}\x01${input.targetCompId}`,
    'utf8',
  );
}

export function signLogon(privateKey: KeyObject, input: LogonSignatureInput): string {
  return signPss(privateKey, logonPreHash(input));
}

/** RSA-PSS-SHA256 (MGF1-SHA256, salt 32) → base64: Kalshi's scheme for FIX logons and REST requests. */
export function signPss(privateKey: KeyObject, data: Buffer | string): string {
  return sign('sha256', typeof data === 'string' ? Buffer.from(data, 'utf8') : data, {
    key: privateKey,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: SALT_LENGTH,
    mgf1HashAlgorithm: 'sha256',
  } as Parameters<typeof sign>[2]).toString('base64');
}

/** Verifies a base64 RSA-PSS-SHA256 signature over arbitrary data (salt 32 or any). */
export function verifyPss(publicKey: KeyObject, data: Buffer | string, signatureBase64: string): boolean {
  const signature = Buffer.from(signatureBase64, 'base64');
  if (signature.length === 0) return false;
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  for (const saltLength of [SALT_LENGTH, constants.RSA_PSS_SALTLEN_AUTO]) {
    try {
      if (verify('sha256', bytes, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength }, signature))
        return true;
    } catch {
      return false;
    }
  }
  return false;
}

/** The simulator's side. Accepts salt 32 or any salt length (Kalshi does not pin it for FIX). */
export function verifyLogon(publicKey: KeyObject, input: LogonSignatureInput, signatureBase64: string): boolean {
  return verifyPss(publicKey, logonPreHash(input), signatureBase64);
}

/** Loads an RSA private key from PEM; the error never echoes the key material. */
export function loadRsaPrivateKey(pem: string | Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new ListenerError('ERR_FIX_SIGNATURE', 'private key is not a readable PEM private key', {
      cause: stripKey(cause),
    });
  }
  if (key.asymmetricKeyType !== 'rsa') {
    throw new ListenerError(
      'ERR_FIX_SIGNATURE',
      `private key is ${key.asymmetricKeyType ?? 'unknown'}, Kalshi FIX needs an RSA key`,
    );
  }
  return key;
}

export function publicKeyOf(privateKey: KeyObject): KeyObject {
  return createPublicKey(privateKey);
}

// OpenSSL errors can carry library detail but not key bytes; keep only code and message to be safe.
function stripKey(cause: unknown): Error {
  if (cause instanceof Error) {
    const error = new Error(cause.message);
    (error as Error & { code?: unknown }).code = (cause as Error & { code?: unknown }).code;
    return error;
  }
  return new Error('invalid key');
}
