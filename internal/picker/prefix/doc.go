// Package prefix is the approximate prompt-prefix index behind the
// inference policy's prefix-affinity scorer.
//
// A prompt (the raw JSON of a chat request's messages or a completion's
// prompt, as the client sent it) is cut into blocks of a fixed number of
// bytes; block i's hash chains the hashes of blocks 0..i (AppendHashes), so
// two prompts share hash i exactly when they share their first i+1 blocks.
// For every endpoint the Index remembers the blocks aimesh routed there in
// a least-recently-used list bounded per endpoint (New's maxBlocks, cut
// further per Insert to the endpoint's own KV-cache size when known), and
// Match tells, for a new prompt, how many leading blocks each endpoint was
// sent: a stand-in for how much of the prompt its prefix cache still
// holds, learned without asking the model server.
//
// Memory: at most BytesPerBlock per remembered block, so an endpoint costs
// at most maxBlocks × BytesPerBlock (1.75 MiB at DefaultMaxBlocks);
// endpoints that leave their Set are dropped by Retain. Indexes are owned
// by the picker's long-lived per-Set state and survive config reloads.
package prefix
