// Owner: h3 (replaced by the admin routes).
export const adminRoutes = <></>;
