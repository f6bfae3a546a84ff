-- KEYS[1] remaining, KEYS[2] holders; ARGV[1] holder, ARGV[2] booking id
-- -> 1 if the place was given back, 0 if the holder has no entry for this booking.
local entry = redis.call('HGET', KEYS[2], ARGV[1])
if not entry then
  return 0
end
local booking, segment = string.match(entry, '^([^|]*)|([^|]*)|')
if booking ~= ARGV[2] then
  return 0
end
redis.call('HDEL', KEYS[2], ARGV[1])
-- Raise only a count that exists: HINCRBY on a missing field would invent a segment.
if redis.call('HEXISTS', KEYS[1], segment) == 1 then
  redis.call('HINCRBY', KEYS[1], segment, 1)
end
return 1
