-- KEYS[1] holders; ARGV[1] holder, ARGV[2] booking id -> 1 if the entry is (now) owned, else 0.
-- Entries are 'booking|segment|held|expires_ms' or 'booking|segment|owned|0'.
local entry = redis.call('HGET', KEYS[1], ARGV[1])
if not entry then
  return 0
end
local booking, segment = string.match(entry, '^([^|]*)|([^|]*)|')
if booking ~= ARGV[2] then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], booking .. '|' .. segment .. '|owned|0')
return 1
