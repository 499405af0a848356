// Package swarmconvert turns docker/cli's loaded compose types into Swarm
// API specs. It is docker/cli v28.5.2's cli/compose/convert (Apache License
// 2.0, Copyright Docker, Inc.; https://github.com/docker/cli), trimmed: the
// upstream package imports the CLI's command tree to look up secret and
// config IDs through an API client, which added 11 MB to our binary, and
// its Secrets/Configs read files from any host path. Here only the pure
// conversions are kept (Service, Networks, Volumes and their helpers); the
// caller builds secret and config references itself and reads their files
// with safefile. Keep it in step with upstream when docker/cli is bumped.
package swarmconvert
