/** The checks of the option tables (daemon-options.ts, broker-options.ts), on the one helper src/util/check.ts. */
import { assertLevel } from '../log.js';
import { fail, numberCheck, wholeAtLeast, integerFrom, type Check } from '../util/check.js';
import { checkDriftPpm, parseClockOffset, parseDuration, parseHostPort } from '../util/duration.js';
import { parseSize } from '../util/size.js';
import { assertKeyFilter, assertNamespace } from '../wire/topics.js';
import { checkPath } from './credentials.js';

export const str: Check = (v, f) => {
  if (typeof v !== 'string' || v === '') fail(f, 'a non-empty string', v);
};
export const port: Check = (v, f) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) fail(f, 'a port number from 0 to 65535', v);
};
/** A file path; may be ${CREDENTIALS_DIRECTORY}/<id> (src/config/credentials.ts). */
export const file: Check = checkPath;
export const hostPort: Check = (v, f) => void parseHostPort(v, f);
export const level: Check = (v) => assertLevel(v);
export const ns: Check = (v) => assertNamespace(v);
export const deviceId: Check = (v, f) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(v)) fail(f, '1-64 characters of [A-Za-z0-9_-]', v);
};
export const filters: Check = (v, f) => {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0) fail(f, 'a key filter or a list of them', v);
  (list as unknown[]).forEach((x) => assertKeyFilter(x));
};
export const brokerUrl: Check = (v, f) => {
  if (typeof v !== 'string' || !/^(mqtts?|wss?):\/\/(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\/\S*)?$/.test(v)) fail(f, 'a URL like mqtt://host:1883 or mqtts://host:8883', v);
};
/** One broker URL or a list of them (the daemon's --broker, repeatable). */
export const brokerUrls: Check = (v, f) => {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || list.length === 0 || list.length > 16) fail(f, 'a broker URL or a list of 1-16 of them', v);
  (list as unknown[]).forEach((x) => brokerUrl(x, f));
};
export const redisUrl: Check = (v, f) => {
  if (typeof v !== 'string' || !/^rediss?:\/\/([^@\s/]+@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\/\d{1,2})?$/.test(v)) fail(f, 'a URL like redis://host:6379', v);
};
export const nodeId: Check = (v, f) => {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(v)) fail(f, '1-64 characters of [A-Za-z0-9_.-]', v);
};
export const ppm: Check = (v, f) => void checkDriftPpm(v, f);
export const clockOffset: Check = (v, f) => void parseClockOffset(v, f);
export const size: Check = (v, f) => void parseSize(v, f);
/** A positive duration. */
export const age: Check = (v, f) => {
  if (parseDuration(v, f) <= 0) fail(f, 'a positive duration like 30d or 12h', v);
};
export const count = (min: number): Check => numberCheck(wholeAtLeast(min));
export const integer = (min: number, max: number): Check => numberCheck(integerFrom(min, max));
export const positiveSize: Check = (v, f) => {
  if (parseSize(v, f) < 1) fail(f, 'a size of at least 1 byte, like 16MiB', v);
};
export const bool: Check = (v, f) => {
  if (typeof v !== 'boolean') fail(f, 'true or false', v);
};
/** A list (or, from a flag or env var, its JSON text: checked in depth when used). */
export const listOrText: Check = (v, f) => {
  if (typeof v !== 'string' && !Array.isArray(v)) fail(f, 'a list', v);
};
