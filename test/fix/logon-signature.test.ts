import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/fix/encoder.js';
import { loadRsaPrivateKey, logonPreHash, publicKeyOf, signLogon, verifyLogon } from '../../src/fix/logon-signature.js';
import { isListenerError } from '../../src/core/errors.js';

// Test vector from kalshi-fix-margin.md §2.5 (a throwaway key, not Kalshi's).
const VECTOR = {
  sendingTime: '20260822-14:00:00.123',
  msgSeqNum: 1,
  senderCompId: '0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d',
  targetCompId: 'KalshiNR',
};
const PRE_HASH_HEX =
  '32303236303832322d31343a30303a30302e313233014101310130623866336332652d313131312d346132622d396333642d356536663761386239633064014b616c7368694e52';
const PUBLIC_KEY = `-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1X6CHiw/KaqT/6i0nfe5
OTylxmqRoZpm5YvugW023bMQwK+pEJRmul4m7VnWkPn77UEzZEQy/pc0lZSYNBB5
P0N6UAUrtLLMN4TFZg4HqFJBowzvQ+2Fbiz4rQEW4Se7UncMZb8Jf5yr29OHA2u4
Z6sbecPjbkMxQS6x6/ZGiVpU6Y5dSTuC6cN08Nl+suHuky70uINrqAWG5t25wn+J
woWtjbhBpQJwFQ2Odm4i80E+aLR//36Ls71/mvNfYFICOq2YJORRy20TpALCmoiN
BIZtU3KVK8H5kGqP1Byj32hgP96NIjHdRWlOFX2652a58CTs/BYUfT3kdM7vVlyn
8QIDAQAB
-----END PUBLIC KEY-----`;
const SIGNATURE =
  'gJOraK9gQA5kbjcHzvOCCCrQCY84mOqIPLe3nFBtWo2Fgki0gEyBkDasAoOYYEHwroqcKc7FTCzdMc4Vx9EU4QR58d/s/1kbR9Hs8TLeviTxKKSGWcydXMGkplwyoCPcRJnLWjlHxvLUVnB+ETG+kZWEPWyGWJfApCGEfzakX31Jl2R9dufsvOJ5otJrJ42MdzUU5RtFOi6Jvgw77SK5ZalU/CAnlpV1UcNVKlYvSFUh2fjsx19nJaDycUTZC918bvx2QS4rEaCGBGv/U1LCKaw8EHxebB9CNz+TlYcBUpkqwyICH+oswA1kPAFNAuyacBb0GJfSwNbyfdqvoZV2Ag==';
const FULL_LOGON = `8=FIXT.1.1|9=483|35=A|49=0b8f3c2e-1111-4a2b-9c3d-5e6f7a8b9c0d|56=KalshiNR|34=1|52=20260822-14:00:00.123|98=0|108=30|141=Y|1137=9|95=344|96=${SIGNATURE}|20126=Y|21011=Y|10=076|`;

describe('logonPreHash', () => {
  it('joins SendingTime, A, MsgSeqNum, SenderCompID and TargetCompID with SOH', () => {
    expect(logonPreHash(VECTOR).toString('hex')).toBe(PRE_HASH_HEX);
    expect(logonPreHash(VECTOR)).toHaveLength(71);
  });
});

describe('verifyLogon', () => {
  it('accepts the published test-vector signature with the published public key', () => {
    expect(verifyLogon(createPublicKey(PUBLIC_KEY), VECTOR, SIGNATURE)).toBe(true);
  });

  it('refuses the same signature over a different SendingTime, target or an empty signature', () => {
    const key = createPublicKey(PUBLIC_KEY);
    expect(verifyLogon(key, { ...VECTOR, sendingTime: '20260822-14:00:00.124' }, SIGNATURE)).toBe(false);
    expect(verifyLogon(key, { ...VECTOR, targetCompId: 'KalshiRT' }, SIGNATURE)).toBe(false);
    expect(verifyLogon(key, VECTOR, '')).toBe(false);
  });
});

describe('signLogon', () => {
  it('round-trips with a generated 2048-bit key: 344 base64 characters that verify', () => {
    // Prepare
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    // Act
    const signature = signLogon(privateKey, VECTOR);
    // Assess
    expect(signature).toHaveLength(344);
    expect(verifyLogon(publicKeyOf(privateKey), VECTOR, signature)).toBe(true);
    // PSS is randomised: two signatures differ yet both verify.
    expect(signLogon(privateKey, VECTOR)).not.toBe(signature);
  });

  it('builds the documented complete Logon byte for byte (BodyLength 483, CheckSum 076)', () => {
    const frame = encodeMessage('A', { ...VECTOR }, [
      [98, 0],
      [108, 30],
      [141, 'Y'],
      [1137, 9],
      [95, SIGNATURE.length],
      [96, SIGNATURE],
      [20126, 'Y'],
      [21011, 'Y'],
    ]);
    expect(frame.toString('latin1').replaceAll('\x01', '|')).toBe(FULL_LOGON);
  });
});

describe('loadRsaPrivateKey', () => {
  it('loads a PKCS#8 RSA key', () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    expect(loadRsaPrivateKey(privateKey).asymmetricKeyType).toBe('rsa');
  });

  it('refuses a non-RSA key and garbage with ERR_FIX_SIGNATURE, never echoing the input', () => {
    const { privateKey } = generateKeyPairSync('ed25519', {
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    expect(() => loadRsaPrivateKey(privateKey)).toThrow(/ed25519/);
    try {
      loadRsaPrivateKey('-----BEGIN PRIVATE KEY-----\nTOPSECRET\n-----END PRIVATE KEY-----');
      expect.unreachable();
    } catch (error) {
      expect(isListenerError(error, 'ERR_FIX_SIGNATURE')).toBe(true);
      expect(String((error as Error).message) + String((error as Error).cause)).not.toContain('TOPSECRET');
    }
  });
});
