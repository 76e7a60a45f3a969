-- Record one post-send hook of a campaign, in one atomic step.
--
-- KEYS = [per-campaign send counts (hash), the campaign's recipient sample (set),
--         the campaign's schedule marker]
-- ARGV = [campaign field, sample size, recipient (or ""), sample ttl_s]
--
-- Counts the send, keeps the recipient if the sample is not full yet, and says
-- whether the campaign still needs a follow-up schedule. Returns {sends, needs 0/1}.
--
-- The count goes to memory only, not to the append-only file, so a post hook does not
-- wait for a disk flush; PostHookRecorder's journal writes it back in batches
-- (persist.lua, webhook/journal.py). The sample, at most SAMPLE_SIZE writes
-- per campaign, is written through at once.
redis.set_repl(redis.REPL_NONE)
local sends = redis.call("hincrby", KEYS[1], ARGV[1], 1)
redis.set_repl(redis.REPL_ALL)
if ARGV[3] ~= "" and redis.call("scard", KEYS[2]) < tonumber(ARGV[2]) then
    redis.call("sadd", KEYS[2], ARGV[3])
    redis.call("expire", KEYS[2], ARGV[4])
end
return {sends, 1 - redis.call("exists", KEYS[3])}
