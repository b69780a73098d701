/** The daemon's sync v2 feed follower lives in src/follow/ (shared with the hub cluster's peer snapshot). */
export { FeedFollower, type FeedStatus } from '../follow/feed-follower.js';
