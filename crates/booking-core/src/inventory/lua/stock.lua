-- Reads both hashes in one step, so counts and holders always agree in the snapshot.
-- KEYS[1] remaining, KEYS[2] holders -> {remaining as field, value, ...; holders likewise}.
return {redis.call('HGETALL', KEYS[1]), redis.call('HGETALL', KEYS[2])}
