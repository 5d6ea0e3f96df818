const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else cannot name a stored image (and must never reach a `uuid` column). */
export const isUuid = (v: unknown): v is string => typeof v === 'string' && UUID.test(v);
