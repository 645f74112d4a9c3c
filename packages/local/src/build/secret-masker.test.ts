import { describe, expect, it } from 'vitest';
import { SecretMasker } from './secret-masker';

describe('SecretMasker', () => {
  it('masks every occurrence of each secret, longest first, and leaves values shorter than 3 alone', () => {
    const masker = new SecretMasker(['s3cr3t', 's3cr3t-and-more', 'ab']);
    expect(masker.mask('a=s3cr3t b=s3cr3t-and-more c=ab')).toBe('a=*** b=*** c=ab');
  });

  it('masks secrets inside a report, keys included', () => {
    const masker = new SecretMasker(['hunter2']);
    expect(masker.maskDeep({ env: { TOKEN: 'hunter2' }, list: ['x hunter2 y', 3], hunter2: true })).toStrictEqual({
      env: { TOKEN: '***' },
      list: ['x *** y', 3],
      '***': true,
    });
  });

  it('never lets a secret through when the output splits it across chunks, wherever the splits fall', () => {
    const secret = 'p4ss\nw0rd';
    const masker = new SecretMasker([secret, 'other-secret']);
    const text = `start ${secret} middle p4ss\nnot it ${secret}${secret} end p4s`;
    for (let i = 0; i <= text.length; i++) {
      for (let j = i; j <= text.length; j += 3) {
        const stream = masker.stream();
        const out = stream.write(text.slice(0, i)) + stream.write(text.slice(i, j)) + stream.write(text.slice(j)) + stream.end();
        expect(out).toBe(masker.mask(text));
      }
    }
  });

  it('holds back only what could still become a secret, so live output is not delayed', () => {
    const stream = new SecretMasker(['hunter2']).stream();
    expect(stream.write('building...\n')).toBe('building...\n');
    expect(stream.write('token: hun')).toBe('token: ');
    expect(stream.write('gry')).toBe('hungry');
    expect(stream.end()).toBe('');
  });
});
