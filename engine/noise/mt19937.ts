/** The Mersenne Twister exactly as torch's CPU generator runs it (`at::mt19937`, 32-bit seeding). */
export class MT19937 {
  private readonly state = new Uint32Array(624);
  private index = 624;

  constructor(seed: number | bigint) {
    const s = BigInt.asUintN(32, BigInt(seed)); // torch keeps the low 32 bits of the seed
    this.state[0] = Number(s);
    for (let j = 1; j < 624; j++) {
      const prev = this.state[j - 1]! ^ (this.state[j - 1]! >>> 30);
      this.state[j] = (Math.imul(1812433253, prev) + j) >>> 0;
    }
  }

  nextUint32(): number {
    if (this.index >= 624) this.twist();
    let y = this.state[this.index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  private twist(): void {
    const s = this.state;
    for (let i = 0; i < 624; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % 624]! & 0x7fffffff);
      s[i] = s[(i + 397) % 624]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.index = 0;
  }
}
