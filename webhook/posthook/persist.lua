-- Writes campaigns' send counts, counted in memory only by record.lua, through the
-- append-only file (and to replicas): each is removed and set again, since writing
-- back the value already there would change nothing and not be passed on.
--
-- KEYS = [per-campaign send counts (hash)]
-- ARGV = campaign fields
for _, field in ipairs(ARGV) do
    local sends = redis.call("hget", KEYS[1], field)
    if sends then
        redis.call("hdel", KEYS[1], field)
        redis.call("hset", KEYS[1], field, sends)
    end
end
return #ARGV
