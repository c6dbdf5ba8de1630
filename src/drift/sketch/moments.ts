/**
 * @module drift/sketch/moments
 * Mergeable summary statistics of a numeric column: count, mean and sum of squared
 * deviations (Welford's update, Chan et al.'s pairwise merge), minimum and maximum.
 */

export interface MomentsJson {
  count: number;
  mean: number;
  m2: number;
  min: number | null;
  max: number | null;
}

export class Moments {
  count = 0;
  mean = 0;
  /** Sum of squared deviations from the mean. */
  m2 = 0;
  min = Infinity;
  max = -Infinity;

  add(x: number): void {
    this.count++;
    const d = x - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (x - this.mean);
    if (x < this.min) this.min = x;
    if (x > this.max) this.max = x;
  }

  merge(o: Moments): this {
    if (o.count === 0) return this;
    if (this.count === 0) {
      Object.assign(this, { count: o.count, mean: o.mean, m2: o.m2, min: o.min, max: o.max });
      return this;
    }
    const n = this.count + o.count;
    const d = o.mean - this.mean;
    this.mean += (d * o.count) / n;
    this.m2 += o.m2 + (d * d * this.count * o.count) / n;
    this.count = n;
    this.min = Math.min(this.min, o.min);
    this.max = Math.max(this.max, o.max);
    return this;
  }

  /** Population standard deviation (ddof 0); 0 for fewer than two values. */
  get std(): number {
    return this.count > 1 ? Math.sqrt(Math.max(0, this.m2) / this.count) : 0;
  }

  toJSON(): MomentsJson {
    return { count: this.count, mean: this.mean, m2: this.m2, min: this.count ? this.min : null, max: this.count ? this.max : null };
  }

  static fromJSON(j: MomentsJson): Moments {
    const m = new Moments();
    m.count = j.count;
    m.mean = j.mean;
    m.m2 = j.m2;
    m.min = j.min ?? Infinity;
    m.max = j.max ?? -Infinity;
    return m;
  }
}
