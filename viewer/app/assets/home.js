// The start page sends each person to the first page of their role.
import { session, home } from "/app/assets/common.js";

const s = await session();
location.replace(home(s.grant.role));
