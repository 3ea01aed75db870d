import { generate } from 'selfsigned';

export interface LoopbackCertificate {
  /** PEM private key of the server. Test material, generated per run. */
  key: string;
  /** PEM certificate; clients trust it as their extra CA (FIX_TLS_CA_FILE). */
  cert: string;
}

/**
 * A fresh self-signed certificate for localhost / 127.0.0.1 / ::1, so the simulator serves real
 * TLS and clients verify it exactly as they verify Kalshi's (only the trust anchor differs).
 */
export async function generateLoopbackCertificate(): Promise<LoopbackCertificate> {
  const notBeforeDate = new Date(Date.now() - 60_000);
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    notBeforeDate,
    notAfterDate: new Date(notBeforeDate.getTime() + 30 * 24 * 3600 * 1000),
    extensions: [
      { name: 'basicConstraints', cA: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, keyCertSign: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
          { type: 7, ip: '::1' },
        ],
      },
    ],
  });
  return { key: pems.private, cert: pems.cert };
}
