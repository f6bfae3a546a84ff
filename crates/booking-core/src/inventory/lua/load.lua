-- Replaces a schedule's whole state in one step, so no hold can run on a half-written one.
-- KEYS[1] remaining (hash segment -> count), KEYS[2] holders (hash holder -> entry).
-- ARGV[1] "replace" or "if_absent" (leave a schedule that is already loaded alone: lazy loads
-- racing each other must not wipe holds taken in between), ARGV[2] n, then n field/count pairs
-- for KEYS[1] (the caller includes the loaded marker, so a schedule without segments still
-- exists), then field/entry pairs for KEYS[2].
-- One HSET per field: unpacking thousands of arguments would overflow the Lua stack.
-- Returns 1 when it loaded, 0 when it left an existing state alone.
if ARGV[1] == 'if_absent' and redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2])
local n = tonumber(ARGV[2])
local i = 3
for _ = 1, n do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  i = i + 2
end
while i < #ARGV do
  redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1])
  i = i + 2
end
return 1
