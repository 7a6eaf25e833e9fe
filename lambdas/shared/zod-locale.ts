import { en } from 'zod/locales';
import * as z from 'zod/mini';

/**
 * zod/mini sets no locale of its own (classic zod sets English on first use): without this, every issue reads
 * "Invalid input". Imported for its effect by each module that builds a schema, so messages stay as classic
 * zod wrote them (tests and operators read them). Only English is bundled (test/cdk/bundling.test.ts).
 */
z.config(en());
