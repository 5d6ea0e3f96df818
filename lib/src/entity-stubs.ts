import { Directive, Field, ID, ObjectType } from 'type-graphql';

/**
 * Stubs of entities another subgraph owns, for the subgraphs that only point at them (`resolvable: false`: they
 * contribute no fields; the gateway asks the owner for the rest). One declaration, so every referencing subgraph
 * states the same key and description.
 */

/** The product subgraph's `Product`, as the cart and order subgraphs reference it: only its id. */
@Directive('@key(fields: "id", resolvable: false)')
@ObjectType('Product', { description: 'A product of the catalog (resolved by the product subgraph).' })
export class ProductRef {
  @Field(() => ID, { description: 'Product id.' })
  id!: string;
}
