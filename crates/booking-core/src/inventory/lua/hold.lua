-- KEYS[1] remaining, KEYS[2] holders; ARGV[1] segment, ARGV[2] holder, ARGV[3] new entry.
-- -> {'not_loaded'} | {'unknown_segment'} | {'holding', existing entry} | {'sold_out'} | {'held'}
-- Whether an existing entry is a retry of this very booking is decided by the caller, which
-- parses entries anyway.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return {'not_loaded'}
end
local left = redis.call('HGET', KEYS[1], ARGV[1])
if not left then
  return {'unknown_segment'}
end
local existing = redis.call('HGET', KEYS[2], ARGV[2])
if existing then
  return {'holding', existing}
end
if tonumber(left) <= 0 then
  return {'sold_out'}
end
redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
redis.call('HSET', KEYS[2], ARGV[2], ARGV[3])
return {'held'}
