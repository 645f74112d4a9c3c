// Lambda handlers live in ./handlers/<name>.ts (each exports `handler`); AWS adapters beside them.
export {};
