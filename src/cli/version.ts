/** Kept in step with package.json by a unit test (reading package.json at run time would need its path). */
export const VERSION = '0.1.0';
