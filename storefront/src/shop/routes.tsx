// Owner: h2 (replaced by the shop's routes).
export const shopRoutes = <></>;
