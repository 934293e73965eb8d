// This page is being built.
import { start, notice } from "/app/assets/common.js";

const { main } = await start({ requireSession: true });
notice(main, "This page is not ready yet.", "warning");
