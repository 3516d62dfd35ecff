/**
 * A map keyed by data (remote secret keys, Secret keys): a null-prototype object, so a key named
 * `__proto__` is an ordinary key (as in Go's maps) instead of replacing the object's prototype,
 * and no lookup ever reaches an inherited property.
 */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
